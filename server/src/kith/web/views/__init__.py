"""HTML views of the web UI, one module per page group. Each is thin: validate with a form, call a service, redirect."""

"""crmify: a bridge between a Django application and a CRM. The package is built out in its own issue."""

__version__ = "2.0.0.dev0"

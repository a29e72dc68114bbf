"""The contacts and companies pages (server-rendered, HTMX for the live list, tags and the timeline)."""

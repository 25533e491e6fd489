"""Edge layer: the review console, server-rendered pages (Jinja2, plain CSS, one small script)."""

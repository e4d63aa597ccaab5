"""Server-rendered dashboard pages. One module per area; monitoring.urls lists them all."""

"""Server-rendered dashboard pages. One module per area; dashboard.urls lists them all."""

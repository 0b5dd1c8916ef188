"""Pages and actions of the staff console, one module per area; `console.urls` routes to them."""

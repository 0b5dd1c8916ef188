"""The rep and dispatcher console inside the Django admin (issue #8): search, customer 360, order
page with actions, phone orders, queues, dispatch board and exports."""

"""Pages of the customer portal and the public tracking page, one module per area.

Each view parses input, calls a selector or a service and renders (docs/architecture.md). Every page
but sign-in/sign-up/reset and the public tracking page needs a signed-in user acting for a customer;
every object is looked up through that customer, so anything else is a 404.
"""

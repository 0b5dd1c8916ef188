"""The customer self-service portal (`/portal/`) and the public tracking page (`/track/<token>/`)."""

"""Hospitals on the hub: the model, its service and the `hospital` commands."""

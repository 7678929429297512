"""Thin Bolt listeners: parse the payload into a model, check it, ack, hand the work to a task."""

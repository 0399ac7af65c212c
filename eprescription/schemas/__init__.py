"""Marshmallow schemas of the JSON API: request validation and response bodies."""

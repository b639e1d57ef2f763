"""The JSON API's plumbing: the envelope, the error table, base views, parsers, shared fields, routing."""

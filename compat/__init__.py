"""The SMS-Activate-compatible ``/stubs/handler_api.php``: a thin protocol layer over the same services."""

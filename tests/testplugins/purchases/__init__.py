"""The ``purchases`` test plugin: customer-linked money rows and the data-subject hooks."""

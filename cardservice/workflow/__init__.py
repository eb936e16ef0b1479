"""First issue the way the county works: applications, their states and rules, the
working-day calendar, production runs and receipts."""

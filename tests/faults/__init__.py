"""Issue 14 fault scenarios, one test per scenario of its "Done when" (the closing note lists them)."""

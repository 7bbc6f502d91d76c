## tests/c fragment

"""Pure statistics (intervals, survival, weights, reliability, group tests): nothing here imports from the rest of the project."""

"""gameday: chaos and game-day testing for ML pipelines."""

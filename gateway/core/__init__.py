"""Settings, logging and metrics shared by the whole gateway."""

pytest_plugins = ["wavegate.plugin"]

"""Alerts: rules over metrics, tasks, plugins and sign-ins (rules, engine, sources, api), and the channels that deliver them (channels, delivery)."""

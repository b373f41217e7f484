"""campaignbot chat adapters (Slack, Discord, playground). They only translate."""

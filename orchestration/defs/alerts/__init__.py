"""Alerts: a webhook POST (Slack-compatible JSON) for every failed run and for every failed
asset check, sent by two sensors to ``PORTFOLIO_ALERT_WEBHOOK``; with the variable unset the
sensors skip and say so, and nothing is sent."""

"""What has no domain: time, database helpers, errors, security, mail, audit, i18n."""

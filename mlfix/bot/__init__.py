"""`mlfix pr`: run the fixes as `--write` would and deliver them as one pull request.

`flow` decides what to do (open, update, close, leave alone); `git` builds and pushes
the bot's one commit without touching the user's checkout; `github` is the REST
client; `body` writes the PR title, body and the fingerprint hidden in it.
"""

"""Which files a dependency install needs, read from commands and manifests."""

"""One customer across channels: identities, linking by code and by verified attributes, merge and unmerge, the unified transcript, privacy export and erasure, and their API."""

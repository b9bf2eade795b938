"""What bot/, knowledge/, handoff/ and actions/ share: small typed models, the
Redis key builder, the gateway's settings, staff accounts and staff sign-in.

Nothing in here imports a channel library; only webauth.py (staff sign-in
pages and dependencies) uses the web framework.
"""

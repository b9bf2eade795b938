"""Small typed models and the Redis key builder shared by bot/, knowledge/, handoff/ and actions/.

Nothing in here imports a web framework or a channel library.
"""

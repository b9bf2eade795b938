"""Answering from the knowledge base: the embedder, the variant index and learned head, the answer policy, and the reply texts."""

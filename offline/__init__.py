"""What the offline rooms (training/ and evaluation/) share, so neither imports the other:
metrics, one-attribute changes, triplet sets with their loaders and feature caches, and the
one scoring of a composition on triplets."""

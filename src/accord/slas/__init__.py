"""Service level management: agreements, their targets and the clocks that keep them."""

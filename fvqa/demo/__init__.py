"""The embedded demo world: a small offline web of pages, passages and questions built
from real photos that installed packages carry, and the `fvqa demo` job that runs on it."""

from fvqa.demo.world import WorldSpec, build_world, load_world_spec, seed_samples

__all__ = ["WorldSpec", "build_world", "load_world_spec", "seed_samples"]

"""Tests of mesh_runtime.ca (a package, so its test module names cannot collide with other folders')."""

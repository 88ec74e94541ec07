"""`meshctl`: the mesh's command line, speaking istioctl's language."""

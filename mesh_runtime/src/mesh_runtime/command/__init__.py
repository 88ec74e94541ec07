"""What every meshlab program's command line shares (meshctl, meshd, mesh-lab): istioctl's exit codes, the
error that carries one to the user, and flag parsing in istioctl's style."""

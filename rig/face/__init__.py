"""The demo's camera: a public-domain portrait animated in memory by the project's face-mesh
renderer (facerig.py), and the synthetic frame sources built on it (synthetic.py)."""

"""Output file makers: meshes, GLB writer/reader, images, rigs, and the other model formats."""

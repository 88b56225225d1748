"""Triangle meshes as numpy arrays: primitives, transforms, merging, normals, decimation, voxels, parts."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Mesh:
    """One triangle mesh. positions/normals (n,3) float32, uvs (n,2) float32, indices (m,3) uint32."""

    positions: np.ndarray
    indices: np.ndarray
    uvs: np.ndarray | None = None
    normals: np.ndarray | None = None
    name: str = "mesh"
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    extras: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, np.float32).reshape(-1, 3)
        self.indices = np.ascontiguousarray(self.indices, np.uint32).reshape(-1, 3)
        if self.uvs is not None:
            self.uvs = np.ascontiguousarray(self.uvs, np.float32).reshape(-1, 2)
        if self.normals is None:
            self.normals = vertex_normals(self.positions, self.indices)
        self.normals = np.ascontiguousarray(self.normals, np.float32).reshape(-1, 3)

    @property
    def vertex_count(self) -> int:
        return len(self.positions)

    @property
    def face_count(self) -> int:
        return len(self.indices)

    def copy(self, **changes) -> Mesh:
        kw = dict(positions=self.positions.copy(), indices=self.indices.copy(),
                  uvs=None if self.uvs is None else self.uvs.copy(), normals=self.normals.copy(), name=self.name,
                  color=self.color, extras=dict(self.extras))
        kw.update(changes)
        return Mesh(**kw)


def vertex_normals(positions: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Area-weighted smooth vertex normals (unit length; +Y for isolated vertices)."""
    p = np.asarray(positions, np.float64).reshape(-1, 3)
    idx = np.asarray(indices, np.int64).reshape(-1, 3)
    n = np.zeros_like(p)
    if len(idx):
        fn = np.cross(p[idx[:, 1]] - p[idx[:, 0]], p[idx[:, 2]] - p[idx[:, 0]])
        for k in range(3):
            np.add.at(n, idx[:, k], fn)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    bad = length[:, 0] < 1e-12
    n[bad] = (0.0, 1.0, 0.0)
    length[bad] = 1.0
    return (n / length).astype(np.float32)


# ------------------------------------------------------------------------------------------------- primitives
def surface(fn: Callable[[np.ndarray, np.ndarray], np.ndarray], nu: int, nv: int, *, wrap_u: bool = False,
            name: str = "surface") -> Mesh:
    """A parametric (u, v) in [0,1]^2 grid surface; fn returns (..., 3) points. Quads split into triangles."""
    u = np.linspace(0.0, 1.0, nu + 1)
    v = np.linspace(0.0, 1.0, nv + 1)
    uu, vv = np.meshgrid(u, v)  # (nv+1, nu+1)
    pts = fn(uu, vv).reshape(-1, 3)
    uvs = np.stack([uu.ravel(), 1.0 - vv.ravel()], axis=1)
    i, j = np.meshgrid(np.arange(nu), np.arange(nv))
    a = (j * (nu + 1) + i).ravel()
    b = a + 1
    c = a + (nu + 1)
    d = c + 1
    tris = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)])
    area = np.linalg.norm(np.cross(pts[tris[:, 1]] - pts[tris[:, 0]], pts[tris[:, 2]] - pts[tris[:, 0]]), axis=1)
    tris = tris[area > 1e-12]  # the collapsed rows at a lathe's poles
    mesh = Mesh(pts, tris, uvs, name=name)
    if wrap_u:  # average the normals of the seam so it shades smoothly
        seam_a = (np.arange(nv + 1) * (nu + 1))
        seam_b = seam_a + nu
        avg = mesh.normals[seam_a] + mesh.normals[seam_b]
        avg /= np.maximum(np.linalg.norm(avg, axis=1, keepdims=True), 1e-9)
        mesh.normals[seam_a] = avg
        mesh.normals[seam_b] = avg
    return mesh


def lathe(radius: Callable[[np.ndarray], np.ndarray], height: float = 1.0, segments: int = 32, rings: int = 16,
          name: str = "lathe") -> Mesh:
    """Surface of revolution around +Y, y from -height/2 (v=0) to +height/2 (v=1)."""

    def fn(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        r = radius(v)
        a = u * 2 * math.pi
        return np.stack([r * np.sin(a), (v - 0.5) * height, r * np.cos(a)], axis=-1)

    return surface(fn, segments, rings, wrap_u=True, name=name)


def sphere(segments: int = 32, rings: int = 16, name: str = "sphere") -> Mesh:
    """Unit-diameter UV sphere."""
    return lathe(lambda v: 0.5 * np.sin(v * math.pi), 1.0, segments, rings, name)


def capsule(segments: int = 16, rings: int = 12, name: str = "capsule") -> Mesh:
    """Rounded cylinder, diameter 1, height 1 (closed)."""
    return lathe(lambda v: 0.5 * np.sin(v * math.pi) ** 0.35, 1.0, segments, rings, name)


def box(n: int = 4, name: str = "box") -> Mesh:
    """Unit cube made of six n x n grids (sharp edges: separate vertices per face)."""
    faces = []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            def fn(u: np.ndarray, v: np.ndarray, axis: int = axis, sign: float = sign) -> np.ndarray:
                a, b = (u - 0.5), (v - 0.5)
                if sign < 0:
                    a = -a
                out = [None, None, None]
                out[axis] = np.full_like(u, 0.5 * sign)
                out[(axis + 1) % 3] = a
                out[(axis + 2) % 3] = b
                return np.stack(out, axis=-1)
            faces.append(surface(fn, n, n))
    m = merge(faces, name=name)
    # make every face point outward
    centroid = m.positions[m.indices].mean(axis=1)
    fn_ = np.cross(m.positions[m.indices[:, 1]] - m.positions[m.indices[:, 0]],
                   m.positions[m.indices[:, 2]] - m.positions[m.indices[:, 0]])
    flip = (fn_ * centroid).sum(axis=1) < 0
    m.indices[flip] = m.indices[flip][:, ::-1]
    m.normals = vertex_normals(m.positions, m.indices)
    return m


# ------------------------------------------------------------------------------------------------- transforms
def rotation(axis: str | np.ndarray, angle: float) -> np.ndarray:
    """3x3 rotation matrix about 'x'|'y'|'z' or an arbitrary axis, angle in radians."""
    if isinstance(axis, str):
        axis = {"x": (1, 0, 0), "y": (0, 1, 0), "z": (0, 0, 1)}[axis]
    x, y, z = np.asarray(axis, float) / np.linalg.norm(axis)
    c, s = math.cos(angle), math.sin(angle)
    C = 1 - c
    return np.array([[c + x * x * C, x * y * C - z * s, x * z * C + y * s],
                     [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
                     [z * x * C - y * s, z * y * C + x * s, c + z * z * C]])


def transformed(mesh: Mesh, scale=(1.0, 1.0, 1.0), rot: np.ndarray | None = None, offset=(0.0, 0.0, 0.0),
                name: str | None = None) -> Mesh:
    """Scale, then rotate, then translate. Normals are recomputed."""
    p = mesh.positions.astype(np.float64) * np.asarray(scale, float)
    if rot is not None:
        p = p @ np.asarray(rot).T
    p += np.asarray(offset, float)
    idx = mesh.indices
    if np.prod(np.sign(scale)) < 0:
        idx = idx[:, ::-1]
    return Mesh(p, idx.copy(), None if mesh.uvs is None else mesh.uvs.copy(), name=name or mesh.name,
                color=mesh.color)


def merge(meshes: list[Mesh], name: str = "mesh") -> Mesh:
    """One mesh from several (indices offset; UVs zero-filled where missing)."""
    pos, idx, uvs, nrm = [], [], [], []
    base = 0
    for m in meshes:
        pos.append(m.positions)
        nrm.append(m.normals)
        uvs.append(m.uvs if m.uvs is not None else np.zeros((m.vertex_count, 2), np.float32))
        idx.append(m.indices + base)
        base += m.vertex_count
    out = Mesh(np.concatenate(pos), np.concatenate(idx), np.concatenate(uvs), np.concatenate(nrm), name=name,
               color=meshes[0].color if meshes else (0.8, 0.8, 0.8))
    return out


def bounds(meshes: list[Mesh]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.concatenate([m.positions for m in meshes if m.vertex_count]) if meshes else np.zeros((1, 3))
    return pts.min(axis=0), pts.max(axis=0)


def normalize(meshes: list[Mesh], size: float = 1.0, ground: bool = False) -> list[Mesh]:
    """Centre on the origin and scale the largest dimension to `size` (ground=True: lowest point at y=0)."""
    lo, hi = bounds(meshes)
    centre = (lo + hi) / 2
    if ground:
        centre[1] = lo[1]
    s = size / max(float((hi - lo).max()), 1e-9)
    out = []
    for m in meshes:
        n = m.copy()
        n.positions = ((m.positions - centre) * s).astype(np.float32)
        out.append(n)
    return out


def facet(mesh: Mesh) -> Mesh:
    """Flat-shaded copy: every triangle gets its own three vertices."""
    flat = mesh.indices.reshape(-1)
    p = mesh.positions[flat]
    uv = None if mesh.uvs is None else mesh.uvs[flat]
    tri = np.arange(len(flat), dtype=np.uint32).reshape(-1, 3)
    fn = np.cross(p[1::3] - p[0::3], p[2::3] - p[0::3])
    fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-12)
    return Mesh(p, tri, uv, np.repeat(fn, 3, axis=0), name=mesh.name, color=mesh.color)


# ------------------------------------------------------------------------------------------------- processing
def decimate(mesh: Mesh, face_limit: int) -> Mesh:
    """Vertex-clustering decimation to at most `face_limit` triangles (coarser grids until it fits)."""
    if mesh.face_count <= face_limit:
        return mesh.copy()
    lo, hi = mesh.positions.min(axis=0), mesh.positions.max(axis=0)
    extent = float((hi - lo).max()) or 1.0
    cells = max(4, int(math.sqrt(face_limit) * 1.5))
    best = None
    while cells >= 2:
        out = _cluster(mesh, lo, extent / cells)
        best = out
        if out.face_count <= face_limit:
            return out
        cells = int(cells * 0.8)
    return best if best is not None else mesh.copy()


def _cluster(mesh: Mesh, lo: np.ndarray, cell: float) -> Mesh:
    keys = np.floor((mesh.positions - lo) / cell).astype(np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    count = np.bincount(inverse).astype(np.float64)[:, None]
    pos = np.zeros((count.shape[0], 3))
    np.add.at(pos, inverse, mesh.positions)
    pos /= count
    uvs = None
    if mesh.uvs is not None:
        uvs = np.zeros((count.shape[0], 2))
        np.add.at(uvs, inverse, mesh.uvs)
        uvs /= count
    tri = inverse[mesh.indices]
    tri = tri[(tri[:, 0] != tri[:, 1]) & (tri[:, 1] != tri[:, 2]) & (tri[:, 0] != tri[:, 2])]
    _, first = np.unique(np.sort(tri, axis=1), axis=0, return_index=True)
    tri = tri[np.sort(first)]
    return Mesh(pos, tri, uvs, name=mesh.name, color=mesh.color)


def sample_surface(mesh: Mesh, count: int, seed: int = 0) -> np.ndarray:
    """`count` points spread over the surface (area-weighted)."""
    p = mesh.positions.astype(np.float64)
    t = mesh.indices
    if not len(t):
        return p.copy()
    area = np.linalg.norm(np.cross(p[t[:, 1]] - p[t[:, 0]], p[t[:, 2]] - p[t[:, 0]]), axis=1)
    rng = np.random.default_rng(seed)
    prob = area / area.sum() if area.sum() > 0 else None
    pick = rng.choice(len(t), size=count, p=prob)
    r1, r2 = rng.random(count), rng.random(count)
    s = np.sqrt(r1)
    a, b, c = 1 - s, s * (1 - r2), s * r2
    tri = t[pick]
    return a[:, None] * p[tri[:, 0]] + b[:, None] * p[tri[:, 1]] + c[:, None] * p[tri[:, 2]]


def voxels(mesh: Mesh, resolution: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Surface voxelization: (occupied (X,Y,Z) bool grid, origin, cell size)."""
    lo, hi = mesh.positions.min(axis=0), mesh.positions.max(axis=0)
    cell = float((hi - lo).max()) / max(resolution, 1) or 1.0
    dims = np.maximum(np.ceil((hi - lo) / cell).astype(int), 1) + 1
    pts = np.concatenate([sample_surface(mesh, max(20_000, resolution * resolution * 8), seed), mesh.positions])
    ijk = np.clip(np.floor((pts - lo) / cell).astype(int), 0, dims - 1)
    grid = np.zeros(dims, bool)
    grid[ijk[:, 0], ijk[:, 1], ijk[:, 2]] = True
    return grid, lo.astype(np.float64), cell


_CUBE_FACES = [  # (normal axis, sign, 4 corner offsets)
    (0, -1, [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)]), (0, 1, [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)]),
    (1, -1, [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)]), (1, 1, [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)]),
    (2, -1, [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)]), (2, 1, [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)]),
]


def voxel_mesh(grid: np.ndarray, origin: np.ndarray, cell: float, gap: float = 0.0, name: str = "voxels") -> Mesh:
    """Cubes for the occupied cells; only faces not hidden by a neighbour. gap shrinks each cube (bricks)."""
    occ = np.argwhere(grid)
    padded = np.pad(grid, 1)
    pos, nrm, uvs = [], [], []
    for axis, sign, corners in _CUBE_FACES:
        step = np.zeros(3, int)
        step[axis] = sign
        nb = occ + 1 + step
        visible = occ[~padded[nb[:, 0], nb[:, 1], nb[:, 2]]] if gap == 0 else occ
        if not len(visible):
            continue
        c = np.asarray(corners, float)
        c = gap / 2 + c * (1 - gap)
        quad = (visible[:, None, :] + c[None, :, :]) * cell + origin
        pos.append(quad.reshape(-1, 3))
        n = np.zeros(3)
        n[axis] = sign
        nrm.append(np.tile(n, (len(visible) * 4, 1)))
        uvs.append(np.tile([(0, 0), (1, 0), (1, 1), (0, 1)], (len(visible), 1)))
    if not pos:
        return box(1, name)
    p = np.concatenate(pos)
    q = np.arange(len(p) // 4)[:, None] * 4
    tri = np.concatenate([q + [0, 1, 2], q + [0, 2, 3]])
    return Mesh(p, tri, np.concatenate(uvs), np.concatenate(nrm), name=name)


def split_parts(mesh: Mesh, k: int, seed: int = 0) -> list[Mesh]:
    """Split into k parts by k-means over triangle centroids (geometry and UVs kept)."""
    cent = mesh.positions[mesh.indices].mean(axis=1)
    uniq = np.unique(cent, axis=0)  # distinct starting centres: two equal ones would leave a part empty
    k = max(1, min(k, len(uniq)))
    rng = np.random.default_rng(seed)
    centres = uniq[rng.choice(len(uniq), size=k, replace=False)].copy()
    for _ in range(12):
        label = np.argmin(((cent[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for i in range(k):
            sel = cent[label == i]
            if len(sel):
                centres[i] = sel.mean(axis=0)
            else:  # an empty part takes the triangle farthest from its own centre
                far = int(np.argmax(((cent - centres[label]) ** 2).sum(-1)))
                centres[i], label[far] = cent[far], i
    parts = []
    order = np.argsort(centres[:, 1])[::-1]  # top to bottom, so names are stable for a given shape
    for n, i in enumerate(order):
        tris = mesh.indices[label == i]
        if not len(tris):
            continue
        used, inv = np.unique(tris, return_inverse=True)
        parts.append(Mesh(mesh.positions[used], inv.reshape(-1, 3), None if mesh.uvs is None else mesh.uvs[used],
                          mesh.normals[used], name=f"part_{n + 1}", color=mesh.color))
    return parts

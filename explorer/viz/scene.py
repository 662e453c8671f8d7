"""Build the explorer's 3D scene on *any* pyvista plotter.

The same functions serve the Qt window (a pyvistaqt ``QtInteractor``), the CLI's
off-screen ``render`` and the tests. The landscape mesh is created once; later
reward values are written into ``mesh["reward"]`` in place and the plotter
re-rendered (re-adding the actor was ~2.5x slower, measured).

Colours follow the seed paper's Figure 1 caption: yellow = low, purple = high
(``viridis_r``); ``reverse=True`` gives the authors' renders (yellow = high).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv

from worlds import World

from . import legend as lg
from .colours import FLAW_OFFSET, diff_lut, legend_text, reward_lut, reward_title, shown_lut  # noqa: F401

DIFF_TITLE = "reward change\n(after - before)"


def difference_values(world: World, before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """after - before; for a volume, NaN (drawn transparent) where neither landscape
    is above the floor, so the difference view shows the same kind of cloud."""
    diff = np.asarray(after, np.float32) - np.asarray(before, np.float32)
    if not world.is_terrain:
        diff = np.where((np.asarray(before) > world.floor) | (np.asarray(after) > world.floor),
                        diff, np.float32(np.nan)).astype(np.float32)
    return diff


@dataclass
class Scene:
    world: World
    mesh: pv.DataSet
    actor: object
    overlays: dict = field(default_factory=dict)
    mode: str = "reward"            # "reward" | "difference"
    reverse: bool = False
    bar: object = None              # the scalar bar actor (its LUT and title follow the mode)
    legend: object = None           # the side legend (the window), instead of ``bar``
    scale: float = 1.0              # point sizes and line widths (presenter mode: larger)


def landscape_mesh(world: World, points: np.ndarray, reward: np.ndarray) -> pv.DataSet:
    if world.is_terrain:
        n = world.grid().shape[0] if len(points) == world.grid().size else int(round(np.sqrt(len(points))))
        pts = points.reshape(n, n, 3)
        mesh = pv.StructuredGrid(pts[..., 0], pts[..., 1], pts[..., 2])
        # StructuredGrid orders points Fortran-style; reorder our C-order arrays to match.
        mesh.points = pts.transpose(1, 0, 2).reshape(-1, 3)
        mesh["reward"] = _to_mesh_order(world, reward, n)
    else:
        mesh = pv.PolyData(np.asarray(points, np.float32))
        mesh["reward"] = np.asarray(reward, np.float32)
    return mesh


def _to_mesh_order(world: World, values: np.ndarray, n: int | None = None) -> np.ndarray:
    if not world.is_terrain:
        return np.asarray(values, np.float32)
    n = n or int(round(np.sqrt(len(values))))
    return np.asarray(values, np.float32).reshape(n, n).T.reshape(-1)


def point_size(world: World, scale: float = 1.0) -> float:
    return max(3.0, 140.0 / world.resolution) * scale


def add_landscape(plotter, world: World, points: np.ndarray, reward: np.ndarray,
                  reverse: bool = False, point_size: float | None = None, legend: bool = False,
                  presenter: bool = False) -> Scene:
    """The landscape actor, coloured by reward. With ``legend`` its colour legend is a
    strip beside the 3D data (``legend.py``), else a scalar bar inside the view
    (off-screen figures); ``presenter`` draws larger points."""
    mesh = landscape_mesh(world, points, reward)
    scale = 1.6 if presenter else 1.0
    if legend:                                   # the window: colours go through "shown"
        mesh["shown"] = np.array(mesh["reward"], np.float32)
    bar = {"title": reward_title(reverse), "n_labels": 5, "fmt": "%.1f", "vertical": True,
           "position_x": 0.83, "position_y": 0.12, "width": 0.07, "height": 0.6,
           "color": "black", "title_font_size": 14, "label_font_size": 12,
           # fixed: an interactive bar (pyvistaqt's default) moves and swallows clicks
           "interactive": False}
    lut = shown_lut(world.floor, reverse, not world.is_terrain) if legend else \
        reward_lut(world.floor, reverse, not world.is_terrain)
    scalars = "shown" if legend else "reward"
    if world.is_terrain:
        actor = plotter.add_mesh(mesh, scalars=scalars, cmap=lut, clim=lut.scalar_range if legend else (0.0, 1.0),
                                 scalar_bar_args=bar, smooth_shading=True, name="landscape", render=False,
                                 show_scalar_bar=not legend)
    else:
        size = point_size or globals()["point_size"](world, scale)
        actor = plotter.add_mesh(mesh, scalars=scalars, cmap=lut, render_points_as_spheres=True,
                                 point_size=size, scalar_bar_args=bar, name="landscape", render=False,
                                 show_scalar_bar=not legend, **({"clim": lut.scalar_range} if legend else {}))
    if legend:
        mesh.set_active_scalars("reward")            # what tests and readers see; colours use "shown"
        actor.mapper.SetScalarModeToUsePointFieldData()
        actor.mapper.SelectColorArray("shown")
        # Between a flawed cell (red part of the table) and its neighbour (viridis part),
        # interpolating the value would pass through the table's unused middle (white
        # seams); interpolating the colours blends them.
        actor.mapper.SetInterpolateScalarsBeforeMapping(False)
        for bar_actor in plotter.scalar_bars.values():
            bar_actor.SetDrawBelowRangeSwatch(False)   # hidden cells need no legend swatch
    bar_actor = side = None
    if legend:
        side = lg.add_legend(plotter, reward_lut(world.floor, reverse, not world.is_terrain),
                             *legend_text("reward", reverse, world.floor, world.is_terrain), presenter)
    else:
        try:
            bar_actor = plotter.scalar_bars[bar["title"]]
        except (KeyError, AttributeError):
            pass
    return Scene(world, mesh, actor, reverse=reverse, bar=bar_actor, legend=side, scale=scale)


def update_reward(scene: Scene, reward: np.ndarray, flawed: np.ndarray | None = None) -> None:
    """In place: write the scalars; the caller re-renders (throttled in the GUI).
    ``flawed`` (the flaw overlay): these cells are coloured in the red ramp."""
    values = _to_mesh_order(scene.world, reward)
    scene.mesh["reward"][:] = values
    if "shown" in scene.mesh.point_data:
        shown = scene.mesh["shown"]
        shown[:] = values
        if flawed is not None and scene.mode == "reward":
            mask = _to_mesh_order(scene.world, np.asarray(flawed, np.float32)) > 0.5
            shown[mask] += FLAW_OFFSET
    scene.mesh.Modified()


def set_colouring(scene: Scene, mode: str, reverse: bool | None = None) -> None:
    """Switch between reward colouring and difference colouring (same actor)."""
    if reverse is not None:
        scene.reverse = reverse
    scene.mode = mode
    mapper = scene.actor.mapper
    if mode == "difference":
        lut = diff_lut()
        mapper.lookup_table = lut
        mapper.scalar_range = (-1.0, 1.0)
        title = DIFF_TITLE
    else:
        lut = reward_lut(scene.world.floor, scene.reverse, not scene.world.is_terrain)
        shown = shown_lut(scene.world.floor, scene.reverse, not scene.world.is_terrain) \
            if scene.legend is not None else lut
        mapper.lookup_table = shown
        mapper.scalar_range = shown.scalar_range
        title = reward_title(scene.reverse)
    if scene.bar is not None:
        # The scalar bar keeps the LUT it was made with unless told otherwise.
        scene.bar.SetLookupTable(lut)
        scene.bar.SetTitle(title)
        scene.bar.SetDrawBelowRangeSwatch(False)
        scene.bar.SetDrawNanAnnotation(False)
    if scene.legend is not None:
        lg.set_legend(scene.legend, lut, *legend_text(mode, scene.reverse, scene.world.floor,
                                                      scene.world.is_terrain),
                      scene.legend.marks.GetInput() or "")


def add_overlays(plotter, world: World, show: dict | None = None, scale: float = 1.0) -> dict:
    """Expert samples and route, goals, hazards and the norm boundary. All
    overlays are unpickable so a click always lands on the landscape."""
    show = {"expert": True, "goals": True, "hazards": True, "boundary": True, **(show or {})}
    actors = {}
    lift = 0.008 * float(np.max(world.bounds_max - world.bounds_min))
    samples = world.expert_samples().astype(float)
    routes = world.route_points()
    if world.is_terrain:
        samples = samples + [0, 0, lift]
        routes = [r + [0, 0, lift] for r in routes]
    actors["expert"] = [
        plotter.add_mesh(pv.PolyData(samples), color="black", point_size=11 * scale,
                         render_points_as_spheres=True, pickable=False, name="expert_samples", render=False),
    ] + [plotter.add_mesh(pv.lines_from_points(r), color="black", line_width=3 * scale, pickable=False,
                          name=f"expert_route_{i}", render=False) for i, r in enumerate(routes)]
    actors["goals"] = [plotter.add_mesh(region_outline(world, g), color="#1a9850", line_width=3 * scale,
                                        pickable=False, name=f"goal_{g.name}", style="wireframe", render=False)
                       for g in world.goals]
    actors["hazards"] = [plotter.add_mesh(region_outline(world, h), color="#d73027", line_width=3 * scale,
                                          pickable=False, name=f"hazard_{h.name}", style="wireframe", render=False)
                         for h in world.hazards]
    actors["boundary"] = []
    if np.isfinite(world.boundary):
        outline = norm_boundary(world)
        if outline is not None and outline.n_points:
            actors["boundary"].append(plotter.add_mesh(outline, color="#4d4d4d", opacity=0.12 if not world.is_terrain else 1.0,
                                                       line_width=2 * scale, pickable=False, name="norm_boundary",
                                                       style="surface" if not world.is_terrain else "wireframe",
                                                       render=False))
    for key, items in actors.items():
        for a in items:
            a.SetVisibility(bool(show.get(key, True)))
    return actors


def region_outline(world: World, region) -> pv.PolyData:
    """A ring on the ground (terrain) or a wireframe sphere (volume)."""
    c = np.asarray(region.center, float)
    if world.is_terrain:
        theta = np.linspace(0, 2 * np.pi, 64)
        xy = c[None, :] + region.radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
        pts = world.to_state(xy) + [0, 0, 0.02 * float(np.max(world.bounds_max - world.bounds_min))]
        return pv.lines_from_points(pts, close=True)
    return pv.Sphere(radius=region.radius, center=c, theta_resolution=16, phi_resolution=12)


_BOUNDARIES: dict = {}


def norm_boundary(world: World) -> pv.PolyData | None:
    """The surface (volume) or line (terrain) at distance B from the expert support
    (kept per world file: it costs a distance computation on 110,592 points, and
    the window rebuilds its scene whenever a new lineage starts)."""
    key = (world.name, world.file_hash, float(world.boundary))
    if key not in _BOUNDARIES:
        if len(_BOUNDARIES) > 16:
            _BOUNDARIES.clear()
        _BOUNDARIES[key] = _norm_boundary(world)
    mesh = _BOUNDARIES[key]
    return None if mesh is None else mesh.copy()


def _norm_boundary(world: World) -> pv.PolyData | None:
    n = 48 if not world.is_terrain else 128
    g = world.grid(n)
    dist = world.distance_to_support(g.points)
    if world.is_terrain:
        pts = g.points.reshape(n, n, 3)
        mesh = pv.StructuredGrid(pts[..., 0], pts[..., 1], pts[..., 2])
        mesh.points = pts.transpose(1, 0, 2).reshape(-1, 3)
        mesh["d"] = dist.reshape(n, n).T.reshape(-1)
        line = mesh.contour([world.boundary], scalars="d")
        line.points = line.points + np.array([0, 0, 0.01 * float(np.max(world.bounds_max - world.bounds_min))],
                                             dtype=line.points.dtype)
        return line
    img = pv.ImageData(dimensions=(n, n, n), origin=tuple(world.bounds_min),
                       spacing=tuple((world.bounds_max - world.bounds_min) / (n - 1)))
    img["d"] = dist.reshape(n, n, n).transpose(2, 1, 0).reshape(-1)
    return img.contour([world.boundary], scalars="d")


def flags_mesh(world: World, flags) -> pv.PolyData:
    """Red circles (terrain, on the ground) or rings around spheres (volume)."""
    meshes = []
    for f in flags:
        c = np.asarray(f.center, float)
        theta = np.linspace(0, 2 * np.pi, 48)
        if world.is_terrain:
            xy = c[None, :2] + f.radius * np.stack([np.cos(theta), np.sin(theta)], axis=1)
            ring = world.to_state(xy) + [0, 0, 0.03 * float(np.max(world.bounds_max - world.bounds_min))]
            meshes.append(pv.lines_from_points(ring, close=True))
        else:
            for plane in range(3):
                a, b = [i for i in range(3) if i != plane]
                pts = np.repeat(c[None], len(theta), axis=0)
                pts[:, a] += f.radius * np.cos(theta)
                pts[:, b] += f.radius * np.sin(theta)
                meshes.append(pv.lines_from_points(pts, close=True))
    if not meshes:
        return pv.PolyData()
    return pv.merge(meshes)


def set_flags(plotter, world: World, flags, name: str = "flags", scale: float = 1.0) -> None:
    mesh = flags_mesh(world, flags)
    if mesh.n_points == 0:
        plotter.remove_actor(name, render=False)
        return
    plotter.add_mesh(mesh, color="red", line_width=4 * scale, pickable=False, name=name, reset_camera=False,
                     render=False)      # the caller renders (a GUI throttles; add_mesh would block ~25 ms)


def default_camera(plotter, world: World) -> None:
    """A three-quarter view that does not look down the cube's diagonal (the
    expert route runs along it, so the iso view hides the route behind itself)."""
    centre = (world.bounds_min + world.bounds_max) / 2
    span = float(np.max(world.bounds_max - world.bounds_min))
    # A terrain is seen from well above its ground (a low camera showed a flat strip).
    direction = np.array([-1.3, 1.6, 0.8]) if not world.is_terrain else np.array([0.7, -1.5, 2.2])
    plotter.camera_position = [tuple(centre + direction * span), tuple(centre), (0, 0, 1)]
    plotter.reset_camera(render=False)      # callers render (the GUI throttles its frames)
    plotter.camera.zoom(1.1 if not world.is_terrain else 1.35)


def top_view(plotter) -> None:
    plotter.view_xy(render=False)
    plotter.reset_camera(render=False)


# ---- optional volume overlays: a slice plane and an isosurface ----------------
# They read the same reward values through a live VTK pipeline (image -> cutter /
# contour filter -> mapper): a later ``update_volume`` writes the image's scalars
# in place and the filters re-execute at the next render; no actor is re-added.
@dataclass
class VolumeOverlays:
    image: pv.ImageData
    slice_actor: object
    iso_actor: object
    plane: object
    contour: object


def _image_order(world: World, values: np.ndarray) -> np.ndarray:
    n = world.grid().shape[0] if len(values) == world.grid().size else round(len(values) ** (1 / 3))
    return np.asarray(values, np.float32).reshape(n, n, n).transpose(2, 1, 0).reshape(-1)


def add_volume_overlays(plotter, world: World, values: np.ndarray, reverse: bool = False,
                        iso_level: float = 0.5, show_slice: bool = False,
                        show_iso: bool = False) -> VolumeOverlays | None:
    if world.is_terrain:
        return None
    import vtk
    n = round(len(values) ** (1 / 3))
    spacing = tuple(float(v) for v in (world.bounds_max - world.bounds_min) / (n - 1))
    image = pv.ImageData(dimensions=(n, n, n), origin=tuple(float(v) for v in world.bounds_min), spacing=spacing)
    image["reward"] = _image_order(world, values)
    centre = (world.bounds_min + world.bounds_max) / 2
    plane = vtk.vtkPlane()
    plane.SetOrigin(*centre)
    plane.SetNormal(0, 0, 1)
    cutter = vtk.vtkCutter()
    cutter.SetCutFunction(plane)
    cutter.SetInputData(image)
    contour = vtk.vtkContourFilter()
    contour.SetInputData(image)
    contour.SetValue(0, iso_level)
    lut = reward_lut(0.0, reverse, hide_below_floor=False)
    slice_actor = plotter.add_mesh(cutter, scalars="reward", cmap=lut, clim=(0.0, 1.0), pickable=False,
                                   show_scalar_bar=False, name="reward_slice", render=False, opacity=0.85)
    iso_actor = plotter.add_mesh(contour, color="#7b3294", opacity=0.25, pickable=False,
                                 show_scalar_bar=False, name="reward_isosurface", render=False)
    slice_actor.SetVisibility(show_slice)
    iso_actor.SetVisibility(show_iso)
    return VolumeOverlays(image, slice_actor, iso_actor, plane, contour)


def update_volume(vol: VolumeOverlays | None, world: World, values: np.ndarray) -> None:
    if vol is None:
        return
    vol.image["reward"][:] = _image_order(world, np.nan_to_num(values))
    vol.image.Modified()


def set_slice_height(vol: VolumeOverlays | None, z: float) -> None:
    if vol is not None:
        ox, oy, _ = vol.plane.GetOrigin()
        vol.plane.SetOrigin(ox, oy, z)

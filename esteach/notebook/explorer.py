"""The interactive time-travel explorer: drag a slider through an aggregate's versions.

`explore` reads a stream once, as a `history` table, and
returns a widget: a slider over the versions ``0..N`` (with a Play button) above a view of
the state at the chosen version, where the fields the event at that version changed are
highlighted. Moving the slider only re-renders a row of that table; the store is not read
again.

The widget can be driven without a browser, which is how the tests use it::

    explorer = explore(store, User, "ada")
    explorer.slider.value = 1
    explorer.text  # "User 'ada', version 1 of 2: UserCreated at ..."
    explorer.view.value  # the same, as the HTML the notebook shows

`explorer_text` is the plain-text fallback: the same account of one version as a string,
for a notebook cell whose output is checked, or a front end that shows no widgets.

Only this module imports ipywidgets; ``import esteach`` does not.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, cast

import ipywidgets as widgets

from esteach.aggregate import Aggregate
from esteach.errors import InvalidInput
from esteach.store.base import EventStore
from esteach.timetravel import MISSING, describe_version, history

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TimeTravelExplorer", "explore", "explorer_text", "stream_history"]

PLAY_INTERVAL_MS: Final = 900
"""How long the Play button shows each version, in milliseconds."""

# A highlight readable in light and dark themes: the text colour is set with the background.
_CHANGED = "background-color:#fff3b0;color:#1a1a1a"
_CELL = "padding:2px 10px;text-align:left;font-family:monospace"


def stream_history(
    store: EventStore, aggregate_class: type[Aggregate], aggregate_id: str
) -> pd.DataFrame:
    """`history`, after checking the stream is ``aggregate_class``'s.

    A stream of another aggregate type (``explore(store, User, "account-0001")``) raises
    `InvalidInput` naming the type it holds, instead of failing halfway
    through the replay on the first event the class cannot apply.
    """
    if not (isinstance(aggregate_class, type) and issubclass(aggregate_class, Aggregate)):
        raise InvalidInput(
            f"aggregate_class must be an Aggregate subclass such as User, got {aggregate_class!r}"
        )
    expected = aggregate_class.aggregate_type
    found = sorted({event.aggregate_type for event in store.get_events(aggregate_id)})
    others = [kind for kind in found if kind != expected]
    if others:
        raise InvalidInput(
            f"stream {aggregate_id!r} holds {' and '.join(found)} events, not {expected} "
            f"events: explore it with the class of its aggregate type, e.g. "
            f"explore(store, {others[0]}, {aggregate_id!r})"
        )
    return history(store, aggregate_class, aggregate_id)


def explorer_text(
    store: EventStore, aggregate_class: type[Aggregate], aggregate_id: str, version: int
) -> str:
    """The plain-text account of one version: what the explorer shows, as a string.

    The first line names the aggregate, the version, the event and when it was committed;
    then come the event's data, what it changed and the state after it (see
    `describe_version`).

    >>> print(explorer_text(store, User, "ada", 1))  # doctest: +SKIP
    User 'ada', version 1 of 2: UserCreated at 2024-01-01T00:00:00+00:00 (global position 1)
    ...
    """
    frame = stream_history(store, aggregate_class, aggregate_id)
    return _text(frame, aggregate_class.aggregate_type, aggregate_id, version)


def explore(
    store: EventStore,
    aggregate_class: type[Aggregate],
    aggregate_id: str,
    *,
    version: int | None = None,
) -> TimeTravelExplorer:
    """A widget to travel through one aggregate's versions; it starts at ``version`` (default:
    the latest).

    The stream is read once, here. An empty stream gives a widget that says so; a stream of
    another aggregate type raises `InvalidInput`.
    """
    frame = stream_history(store, aggregate_class, aggregate_id)
    return TimeTravelExplorer(frame, aggregate_class, aggregate_id, version=version)


class TimeTravelExplorer(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no types
    """The widget `explore` returns: a Play button and a slider above an HTML view.

    Attributes a test or a curious learner can use:

    * ``slider``: the ``IntSlider`` over versions ``0..last``; set ``slider.value`` to travel;
    * ``play``: the ``Play`` button, linked to the slider in the browser; pressed at the last
      version, it starts again from version 0;
    * ``view``: the ``HTML`` widget whose ``value`` is what is shown now;
    * ``history``: the `history` frame everything is drawn from;
    * ``text``: what is shown now, as plain text (the same as `explorer_text`).
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        aggregate_class: type[Aggregate],
        aggregate_id: str,
        *,
        version: int | None = None,
    ) -> None:
        last = int(frame.index[-1]) if len(frame) else 0
        start = last if version is None else version
        if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= last:
            raise InvalidInput(
                f"{aggregate_class.aggregate_type} {aggregate_id!r} has versions 0 to {last}; "
                f"cannot start at version {start!r}"
            )
        empty = last == 0
        slider = widgets.IntSlider(
            value=start, min=0, max=last, step=1, description="version", disabled=empty
        )
        play = widgets.Play(
            value=start,
            min=0,
            max=last,
            step=1,
            interval=PLAY_INTERVAL_MS,
            disabled=empty,
            show_repeat=False,
        )
        # In the browser, so Play moves the slider even while the kernel is busy elsewhere.
        widgets.jslink((play, "value"), (slider, "value"))
        view = widgets.HTML()
        super().__init__(children=[widgets.HBox([play, slider]), view])
        self.slider = slider
        self.play = play
        self.view = view
        self.history = frame
        self.aggregate_type = aggregate_class.aggregate_type
        self.aggregate_id = aggregate_id
        self.last_version = last
        # The state before the first event: a fresh aggregate, as state_at(version=0) gives.
        self._initial = aggregate_class(aggregate_id).state()
        self.slider.observe(self._on_slide, names="value")
        self.play.observe(self._on_play, names="playing")
        self._show(start)

    @property
    def version(self) -> int:
        """The version shown now."""
        return int(self.slider.value)

    @property
    def text(self) -> str:
        """What is shown now, as plain text."""
        return _text(self.history, self.aggregate_type, self.aggregate_id, self.version)

    def html(self, version: int) -> str:
        """The HTML the view shows at ``version``: the event, and the state with changes marked."""
        return _html(self.history, self._initial, self.aggregate_type, self.aggregate_id, version)

    def _on_slide(self, change: Mapping[str, Any]) -> None:
        self._show(int(change["new"]))

    def _on_play(self, change: Mapping[str, Any]) -> None:
        # Play at the last version would stop at once; replay the story from the start instead.
        # Both widgets are set: jslink joins them only in a browser.
        if change["new"] and self.slider.value == self.last_version:
            self.play.value = 0
            self.slider.value = 0

    def _show(self, version: int) -> None:
        self.view.value = self.html(version)

    def __repr__(self) -> str:
        # What a front end without widgets shows (and what a built notebook stores as text).
        return (
            f"TimeTravelExplorer({self.aggregate_type} {self.aggregate_id!r}, versions 0 to "
            f"{self.last_version})"
        )


# --- rendering ---------------------------------------------------------------------------------


def _text(frame: pd.DataFrame, aggregate_type: str, aggregate_id: str, version: int) -> str:
    return f"{aggregate_type} {aggregate_id!r}, {describe_version(frame, version)}"


def _html(
    frame: pd.DataFrame,
    initial: Mapping[str, Any],
    aggregate_type: str,
    aggregate_id: str,
    version: int,
) -> str:
    last = int(frame.index[-1]) if len(frame) else 0
    if not 0 <= version <= last:
        raise InvalidInput(f"this history has versions 0 to {last}; there is no version {version}")
    name = f"<b>{_escape(aggregate_type)} {_escape(repr(aggregate_id))}</b>"
    if last == 0:
        return _box(
            f"<p>{name} has no events yet (version 0 of 0): nothing has happened, so there is "
            f"no history to travel through. Check the id, or run a command first.</p>"
        )
    if version == 0:
        heading = (
            f"<p>{name}, version 0 of {last}: before the first event; it does not exist yet.</p>"
        )
        return _box(heading + _state_table(initial, {}, version))
    row = frame.loc[version]
    data = cast(Mapping[str, Any], row["data"])
    changes = cast(Mapping[str, tuple[Any, Any]], row["changes"])
    state = cast(Mapping[str, Any], row["state"])
    position = cast(int, row["global_position"])
    heading = (
        f"<p>{name}, version {version} of {last}: <b>{_escape(str(row['event_type']))}</b> at "
        f"{_escape(row['timestamp'].isoformat())} (global position {position})"
        f"</p>"
    )
    shown_data = ", ".join(f"{key}={value!r}" for key, value in data.items()) or "(none)"
    return _box(
        heading
        + f"<p>event data: <code>{_escape(shown_data)}</code></p>"
        + _state_table(state, changes, version)
    )


def _state_table(
    state: Mapping[str, Any], changes: Mapping[str, tuple[Any, Any]], version: int
) -> str:
    header = (
        f'<tr><th style="{_CELL}">field</th><th style="{_CELL}">value at version {version}</th>'
        f'<th style="{_CELL}">changed by this event</th></tr>'
    )
    rows = []
    # Fields the event removed are not in the state any more; list them after the others.
    for key in [*state, *(key for key in changes if key not in state)]:
        value = state.get(key, MISSING)
        if key in changes:
            old = changes[key][0]
            was = "(new field)" if old is MISSING else f"was {old!r}"
            style, note = _CHANGED, f"yes, {was}"
        else:
            style, note = "", ""
        rows.append(
            f'<tr style="{style}"><td style="{_CELL}">{_escape(key)}</td>'
            f'<td style="{_CELL}">{_escape(repr(value))}</td>'
            f'<td style="{_CELL}">{_escape(note)}</td></tr>'
        )
    return f"<table>{header}{''.join(rows)}</table>"


def _box(body: str) -> str:
    return f'<div class="esteach-time-travel">{body}</div>'


def _escape(text: str) -> str:
    return html.escape(text, quote=True)

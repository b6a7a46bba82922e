"""The lessons in the main window: the neuron explanation beside the Train tab's activations, Edit >
Convert FC layers to convolutions, and the Slide tab (which takes the Explain tab's network when shown)."""
from __future__ import annotations

from PySide6.QtGui import QAction

from ..builder.style import icon
from .convert import TITLE, convert_document
from .neuron import NeuronLesson
from .slide import SlideView


class Lessons:
    """Adds the lessons to window (a MainWindow); shutdown() waits for their threads."""

    def __init__(self, window):
        self.window = window
        dashboard = window.dashboard
        self.neuron = NeuronLesson(dashboard)
        self.slide = SlideView()
        window.tabs.addTab(self.slide, icon("conv"), "Slide")
        dashboard.data_panel.loaded.connect(self.slide.set_data)
        if dashboard.data is not None:
            self.slide.set_data(dashboard.data)
        window.tabs.currentChanged.connect(self._tab_shown)
        self.convert_action = QAction(TITLE, window)
        self.convert_action.setStatusTip("Turn every fc layer into the conv layer that computes the same numbers "
                                         "(undoable); the Explain tab's weights follow when they are this network's")
        self.convert_action.triggered.connect(lambda checked=False: convert_document(window))
        edit = next((a.menu() for a in window.menuBar().actions() if a.menu() and a.text().replace("&", "") == "Edit"),
                    None)
        edit = edit or window.menuBar().addMenu("&Lessons")
        edit.addSeparator()
        edit.addAction(self.convert_action)

    def _tab_shown(self, index: int) -> None:
        if self.window.tabs.widget(index) is self.slide:
            explain = self.window.explain
            self.slide.set_subject(explain.subject, explain.source)

    def shutdown(self) -> None:
        self.neuron.panel.shutdown()
        self.slide.shutdown()

"""The notes' lessons made clickable: how one number is made (ui.lessons.neuron), parameter sharing in
the inspector (ui.lessons.sharing), FC layers as convolutions and sliding over a larger image
(ui.lessons.convert, ui.lessons.slide); ui.lessons.window puts them in the main window."""

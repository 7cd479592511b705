"""Reading-room documents as Qt-free values: presentation states, key images, reports."""

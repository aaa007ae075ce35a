"""The student's side: the information sheet, its answers, consent choices, students."""

// Copy buttons (data-copy="<id of the input>"): shown only where the clipboard can be written; the address stays
// selectable in its read-only field without JavaScript.
document.querySelectorAll("button[data-copy]").forEach((button) => {
  if (!navigator.clipboard) return;
  button.hidden = false;
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    await navigator.clipboard.writeText(field.value);
    button.setAttribute("aria-live", "polite");
    button.textContent = button.dataset.copied || "✓";
  });
});

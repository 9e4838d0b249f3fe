// One listener per panel (event delegation): the panel's HTML is replaced on every update,
// the element that holds it is not. Sends {action, number, value} to the Python handler.
element.addEventListener('click', (event) => {
  const button = event.target.closest('[data-action]');
  if (!button || !element.contains(button)) return;
  const card = button.closest('[data-number]');
  trigger('click', {
    action: button.dataset.action,
    number: card ? Number(card.dataset.number) : 0,
    value: button.dataset.value || '',
  });
});

() => {
  // Gradio refuses a file over its size limit with a toast and would then send the message
  // without the photo ("same but in blue" on nothing). Note any attached file over the shop's
  // limit, so that sending keeps the text in the box and the chat says why (app.take_message).
  const limit = MAX_UPLOAD_BYTES;
  let refused = '';
  const note = (files) => {
    const big = [...(files || [])].find((file) => file.size > limit);
    refused = big ? JSON.stringify({name: big.name, size: big.size}) : '';
  };
  const inBox = (event) => event.target instanceof Element && event.target.closest('#box');
  document.addEventListener('change', (e) => { if (inBox(e) && e.target.files) note(e.target.files); }, true);
  document.addEventListener('drop', (e) => { if (inBox(e)) note(e.dataTransfer && e.dataTransfer.files); }, true);
  document.addEventListener('paste', (e) => {
    if (inBox(e) && e.clipboardData && e.clipboardData.files.length) note(e.clipboardData.files);
  }, true);
  window.shopTakeRefused = () => { const taken = refused; refused = ''; return taken; };
}

() => {
  // On a narrow screen the results sit below the chat: after a search, bring them into view.
  setTimeout(() => {
    const results = document.querySelector('#results');
    if (results && results.querySelector('.card') && results.getBoundingClientRect().top > window.innerHeight * 0.5) {
      results.scrollIntoView({behavior: 'smooth', block: 'start'});
    }
  }, 60);
}

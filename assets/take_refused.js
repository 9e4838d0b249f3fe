(message, chat, refused) => [message, chat, window.shopTakeRefused ? window.shopTakeRefused() : '']

// Pictures of graphs are shrunk to the page's width; a click opens one at full size on its own.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".cell_output img, img.fit-picture").forEach((img) => {
    if (img.closest("a")) return;
    const link = document.createElement("a");
    link.href = img.src;
    link.title = "open the picture at full size";
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
  });
});

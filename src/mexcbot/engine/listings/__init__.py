"""New listings: detection from several sources merged into one listing each (`book`,
`detector`), and the snipe that buys a listing at its open (`sniper`)."""
